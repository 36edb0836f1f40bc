import globals from 'globals';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-eval': 'error',
      'no-new-func': 'error',
      'no-implied-eval': 'error',
    },
  },
  {
    // The runtime and the CEP library know nothing of Kafka, Redis or NestJS (see docs/architecture.md).
    files: ['libs/cep/**/*.ts', 'libs/runtime/**/*.ts', 'libs/rules/**/*.ts', 'libs/common/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['kafkajs', 'ioredis', 'bullmq', '@nestjs/*'],
              message: 'Kafka, Redis and NestJS live in adapters and apps.',
            },
            {
              group: ['**/libs/*/src/**', '../../*/src/**'],
              message: 'Import another library by its alias (@cepheus/...).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
