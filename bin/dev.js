#!/usr/bin/env node
// Like run.js, with oclif's development mode (more detail on errors). Runs the built `dist`.
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
