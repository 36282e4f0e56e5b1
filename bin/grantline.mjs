#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx grantline ...` works in a checkout without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
