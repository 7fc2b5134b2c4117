#!/usr/bin/env node
// Runs the plugin's own commands without a host (`tokenwise auth login`), mostly for its authors.
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
