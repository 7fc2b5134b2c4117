// `npm test` checks the system parts it drives before the first test (scripts/test-parts.sh). As root (a
// container, CI) it installs what is missing; as an ordinary user it must never run sudo by itself,
// even a passwordless one: it prints the one command to run and stops. Run here as a real second
// Unix user (nobody, when the tests run as root), with a PATH and a stand-in root folder that hide the parts, and a `sudo` on the
// PATH that records being run.

import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const SCRIPT = fileURLToPath(new URL('../../scripts/test-parts.sh', import.meta.url))
/** What the script itself needs from the PATH; the parts it looks for are left out on purpose. */
const TOOLS = ['bash', 'sh', 'id', 'grep', 'dirname', 'readlink', 'cat', 'printf', 'dpkg-query', 'apt-get']

describe('npm test: installing the system parts', function () {
  this.timeout(30_000)
  let dir: string
  let bin: string
  let sudoRan: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'test-parts-'))
    await chmod(dir, 0o755)
    bin = join(dir, 'bin')
    sudoRan = join(dir, 'sudo-ran')
    await mkdir(bin)
    await mkdir(join(dir, 'root'))
    for (const tool of TOOLS) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], {encoding: 'utf8'}).stdout.trim()
      if (found.startsWith('/')) await symlink(found, join(bin, tool))
    }
    // A passwordless sudo: the script must not use it.
    await writeFile(join(bin, 'sudo'), `#!/bin/sh\ntouch ${sudoRan}\nexit 0\n`, {mode: 0o755})
    // nobody writes the tripwire here
    await chmod(dir, 0o777)
  })

  after(async () => {
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('as an ordinary user: runs no sudo, prints the one command, stops before the first test', () => {
    // Root (CI) becomes a real ordinary user for this; anyone else already is one.
    const asUser = process.getuid?.() === 0 ? ['/usr/bin/setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '/bin/bash'] : ['/bin/bash']
    const result = spawnSync(asUser[0], [...asUser.slice(1), SCRIPT], {
      encoding: 'utf8',
      env: {PATH: bin, TOKENWISE_TEST_PARTS_ROOT: join(dir, 'root'), HOME: dir},
      cwd: dir,
    })
    expect(result.status, result.stderr).to.equal(1)
    expect(result.stderr).to.include('not root, so nothing is installed for you.')
    expect(result.stderr).to.match(/run this, then npm test again:\n {2}.*sudo apt-get update && sudo apt-get install -y --no-install-recommends .*gnome-keyring/)
    expect(result.stderr).not.to.include('installing ')
    return stat(sudoRan).then(
      () => expect.fail('the script ran sudo'),
      (error: NodeJS.ErrnoException) => expect(error.code).to.equal('ENOENT'),
    )
  })

  it('with every part present: prints nothing and exits 0', () => {
    const result = spawnSync('bash', [SCRIPT], {encoding: 'utf8'})
    expect(result.status, result.stderr).to.equal(0)
    expect(result.stdout + result.stderr).to.equal('')
  })
})
