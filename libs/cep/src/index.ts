// Public surface of @cepheus/cep. Nothing outside this library imports its other files.
export {};
