// Public surface of @cepheus/redis. Nothing outside this library imports its other files.
export {};
