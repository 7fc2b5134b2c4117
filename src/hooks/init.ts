import type {Hook} from '@oclif/core'

/**
 * Runs before every invocation of the host, including `--help` and `--version`. It must stay
 * next to free: no I/O and no imports beyond this file until there is work to do.
 */
const hook: Hook<'init'> = async function () {}

export default hook
