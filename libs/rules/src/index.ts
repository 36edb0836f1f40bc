// Public surface of @cepheus/rules. Nothing outside this library imports its other files.
export {};
