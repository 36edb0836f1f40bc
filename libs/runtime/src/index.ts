// Public surface of @cepheus/runtime. Nothing outside this library imports its other files.
export {};
