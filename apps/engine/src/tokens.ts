/** Injection tokens of the engine application. */
export const ENGINE_CONFIG = Symbol('ENGINE_CONFIG');
export const ENGINE_LOGGER = Symbol('ENGINE_LOGGER');
