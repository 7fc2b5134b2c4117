#!/usr/bin/env node
// An example credential helper for @tokenwise/plugin-auth: a reference for writing your own (the
// protocol is in docs/credential-helper.md). It keeps entries in one JSON file, $FILE_VAULT_PATH
// (mode 0600), as {"<service>": {"<account>": "<secret>"}}; yours would talk to the company vault.
//
//   file-vault.js get|store|erase   one JSON request on stdin, one JSON answer on stdout,
//                                   exit 0 on success, else non-zero and one line on stderr.
//
// Use it with ACME_AUTH_STORAGE='exec:/path/to/file-vault.js' (or 'exec:node /path/to/file-vault.js').
// The CLI never runs two writes at once, so a plain read-modify-write is enough here.

import {mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'

function fail(message) {
  // One line, and never a secret: the CLI shows it to the user.
  process.stderr.write(`file-vault: ${message}\n`)
  process.exit(1)
}

const action = process.argv[2]
const path = process.env.FILE_VAULT_PATH
if (!path) fail('FILE_VAULT_PATH is not set')
if (!['get', 'store', 'erase'].includes(action)) fail(`unknown action '${action}'; expected get, store or erase`)

let request
try {
  request = JSON.parse(readFileSync(0, 'utf8')) // the request comes on stdin, never in argv
} catch {
  fail('the request on stdin is not JSON')
}
const {service, account, secret} = request
if (typeof service !== 'string' || typeof account !== 'string') fail('the request needs "service" and "account"')

let vault = {}
try {
  vault = JSON.parse(readFileSync(path, 'utf8'))
} catch (error) {
  // Do not print error.message for bad JSON: it quotes the file, which holds secrets.
  if (error.code !== 'ENOENT') fail(error.code ? `cannot read ${path} (${error.code})` : `${path} is not valid JSON`)
}
const entries = vault[service] ?? {}
const has = Object.hasOwn(entries, account)

function save() {
  vault[service] = entries
  mkdirSync(dirname(path), {recursive: true, mode: 0o700})
  const temp = `${path}.${process.pid}.tmp`
  writeFileSync(temp, `${JSON.stringify(vault, null, 2)}\n`, {mode: 0o600})
  renameSync(temp, path) // readers see the old file or the new one, never half of it
}

if (action === 'get') {
  // Found: {"secret": "..."}. Not found is not an error: {}.
  process.stdout.write(`${JSON.stringify(has ? {secret: entries[account]} : {})}\n`)
} else if (action === 'store') {
  if (typeof secret !== 'string') fail('the request needs "secret"')
  entries[account] = secret // an opaque string: store it as is
  save()
} else {
  // Erasing what is not there is not an error either.
  if (has) {
    delete entries[account]
    save()
  }
  process.stdout.write(`${JSON.stringify({deleted: has})}\n`)
}
