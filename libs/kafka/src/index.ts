// Public surface of @cepheus/kafka. Nothing outside this library imports its other files.
export {};
