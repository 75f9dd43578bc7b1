#!/usr/bin/env node
import { main } from '../dist/src/bpf2ts/cli.js';
process.exitCode = main(process.argv.slice(2));
