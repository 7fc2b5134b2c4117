#!/usr/bin/env node
import {execute, settings} from '@oclif/core'

// Run what plugins ship. For a plugin added with `bare plugins link`, oclif would otherwise run its
// TypeScript sources through tsx whenever the plugin folder has a tsconfig.json and tsx among its
// devDependencies — even in production (@oclif/core 4, config/ts-path.js). This host, like a
// published CLI, runs the compiled code and manifest a plugin ships.
settings.enableAutoTranspile = false

await execute({dir: import.meta.url})
