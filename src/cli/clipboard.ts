import {spawn} from 'node:child_process'

/** The clipboard tools we know, in the order tried; the first one that starts wins. */
function clipboardCommands(env: NodeJS.ProcessEnv): string[][] {
  switch (process.platform) {
    case 'darwin':
      return [['pbcopy']]
    case 'win32':
      return [['clip']]
    default:
      return [
        ...(env.WAYLAND_DISPLAY ? [['wl-copy']] : []),
        ...(env.DISPLAY ? [['xclip', '-selection', 'clipboard'], ['xsel', '--clipboard', '--input']] : []),
      ]
  }
}

/**
 * Put `text` on the clipboard with the system's tool, given on stdin (never as an argument, which
 * `ps` would show). Resolves with what was used, or why nothing could be.
 */
export async function copyToClipboard(text: string, env: NodeJS.ProcessEnv): Promise<{copied: true; tool: string} | {copied: false; reason: string}> {
  const commands = clipboardCommands(env)
  if (commands.length === 0) return {copied: false, reason: process.platform === 'linux' ? 'no graphical session (DISPLAY or WAYLAND_DISPLAY) to hold a clipboard' : 'no clipboard tool is known here'}
  for (const [file, ...args] of commands) {
    const ok = await new Promise<boolean>((resolve) => {
      const child = spawn(file, args, {stdio: ['pipe', 'ignore', 'ignore'], env})
      child.once('error', () => resolve(false))
      child.once('close', (code) => resolve(code === 0))
      child.stdin.on('error', () => {})
      child.stdin.end(text)
    })
    if (ok) return {copied: true, tool: file}
  }
  return {copied: false, reason: `none of ${commands.map(([file]) => file).join(', ')} is installed`}
}
