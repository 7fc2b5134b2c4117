// session/interrupts.ts in a process of its own for each case (a held signal ends the process it is
// held in): the branches the end-to-end tests (e2e/signals.test.ts) do not reach, a host's own
// handler, the time limit, nesting, and a hold with no interrupt.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

const INTERRUPTS = fileURLToPath(new URL('../../src/session/interrupts.ts', import.meta.url))

/** Run an ES module body with `holdInterrupts` imported; its exit code or signal and what it printed. */
function runScript(body: string): Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}> {
  const script = `import {holdInterrupts} from ${JSON.stringify(INTERRUPTS)}\nconst say = (line) => process.stdout.write(line + '\\n')\n${body}`
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({code, signal, stdout, stderr}))
  })
}

describe('interrupts held while a grant is in flight', function () {
  this.timeout(60_000)

  it('an interrupt during a hold is acted on at its release, with 128 + its number', async () => {
    const run = await runScript(`
      const hold = holdInterrupts({limitMs: 30000})
      process.kill(process.pid, 'SIGTERM')
      setTimeout(() => { say('saved'); hold.release(); say('after release') }, 200)
    `)
    expect(run.stdout).to.equal('saved\n')
    expect(run.code, run.stderr).to.equal(143)
  })

  it("a host's own handler is set aside during the hold and gets the interrupt afterwards", async () => {
    const run = await runScript(`
      process.on('SIGINT', () => { say('host handler'); process.exit(7) })
      const hold = holdInterrupts({limitMs: 30000})
      say('listeners while held: ' + process.listenerCount('SIGINT'))
      process.kill(process.pid, 'SIGINT')
      setTimeout(() => { say('saved'); hold.release() }, 200)
      setTimeout(() => say('not ended'), 5000)
    `)
    expect(run.stdout).to.equal('listeners while held: 1\nsaved\nhost handler\n')
    expect(run.code, run.stderr).to.equal(7)
  })

  it('a hold that outlasts its limit after an interrupt ends the process anyway', async () => {
    const run = await runScript(`
      holdInterrupts({limitMs: 300})
      process.kill(process.pid, 'SIGHUP')
      setTimeout(() => say('still held'), 20000)
    `)
    expect(run.stdout).to.equal('')
    expect(run.code, run.stderr).to.equal(129)
  })

  it('holds nest: the interrupt waits for the last release', async () => {
    const run = await runScript(`
      const outer = holdInterrupts({limitMs: 30000})
      const inner = holdInterrupts({limitMs: 30000})
      process.kill(process.pid, 'SIGINT')
      setTimeout(() => { inner.release(); inner.release(); say('inner released') }, 200)
      setTimeout(() => { say('outer released'); outer.release() }, 400)
    `)
    expect(run.stdout).to.equal('inner released\nouter released\n')
    expect(run.code, run.stderr).to.equal(130)
  })

  it('a second Ctrl-C says once that the login is being saved', async () => {
    const run = await runScript(`
      const hold = holdInterrupts({limitMs: 30000})
      for (const delay of [50, 150, 250]) setTimeout(() => process.kill(process.pid, 'SIGINT'), delay)
      setTimeout(() => hold.release(), 500)
    `)
    expect(run.stderr.match(/saving your new login, one moment/gi)).to.have.length(1)
    expect(run.code).to.equal(130)
  })

  it('without an interrupt a hold changes nothing: the default handling is back afterwards', async () => {
    const run = await runScript(`
      const hold = holdInterrupts({limitMs: 30000})
      setTimeout(() => {
        hold.release()
        say('listeners after: ' + process.listenerCount('SIGINT') + process.listenerCount('SIGTERM') + process.listenerCount('SIGHUP'))
        process.kill(process.pid, 'SIGTERM')
        setTimeout(() => say('not ended'), 5000)
      }, 100)
    `)
    expect(run.stdout).to.equal('listeners after: 000\n')
    expect(run.signal, 'ended by SIGTERM itself, at once').to.equal('SIGTERM')
  })
})
