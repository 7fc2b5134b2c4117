import {spawn} from 'node:child_process'
import {readFile} from 'node:fs/promises'

import {AuthError} from '../errors.js'
import {MAX_TOKEN_BYTES} from '../provider/limits.js'
import type {ClientCredential} from '../provider/api.js'
import {oneLineSafe} from '../safe-text.js'
import {splitCommand} from '../split-command.js'
import type {AccountRecord} from '../store/account-index.js'
import type {Secrets} from '../store/secrets.js'
import type {BoundSettings, ClientBoundKey} from '../settings/binding.js'
import type {AuthContext} from './context.js'
import {accountSettings, configuredSettings, misboundSetting} from './issuer-client.js'

/*
 * Sign-in for machines: a service or a CI job signs in as the client itself (RFC 6749 §4.4), with a
 * client secret, a private key (RFC 7523 private_key_jwt) or a JWT another issuer made for it
 * (workload identity federation). There is no refresh token: every new access token is a new
 * client_credentials grant, made with the credential the login kept, or the one the settings give.
 */

/**
 * The credential a machine account uses for its next token: the one its login kept, else the one the
 * settings configure for its issuer and client. One configured for another issuer or client is never
 * sent: a renewal stops with exit 2 naming both (`whenMisbound: 'refuse'`); a revocation, which the
 * issuer takes without it too, goes on without it (`'omit'`: undefined).
 */
export async function machineCredential(context: AuthContext, account: AccountRecord, secrets: Secrets, whenMisbound: 'refuse' | 'omit' = 'refuse'): Promise<ClientCredential | undefined> {
  const {usable, misbound} = accountSettings(context, account)
  /** None usable: one set for another issuer or client is said as such (or left out), else `otherwise`. */
  const without = (keys: ClientBoundKey[], otherwise: () => never) => {
    const elsewhere = misbound.find((entry) => (keys as string[]).includes(entry.key))
    if (!elsewhere) return otherwise()
    if (whenMisbound === 'omit') return undefined
    throw misboundSetting(context, elsewhere, account, 'login')
  }
  switch (account.clientAuth) {
    case 'client_secret': {
      const secret = secrets.clientSecret ?? usable.clientSecret
      if (!secret) return without(['clientSecret'], () => machineSettingMissing(context, account, `its client secret, which was given in ${context.envNames.clientSecret} and is not set now`))
      return {kind: 'client_secret', secret}
    }
    case 'private_key_jwt': {
      if (secrets.clientAssertionKey) return {kind: 'private_key_jwt', key: secrets.clientAssertionKey}
      const path = secrets.clientAssertionKeyPath ?? usable.clientAssertionKey
      if (!path) return without(['clientAssertionKey'], () => machineSettingMissing(context, account, 'its private key: no key file is known'))
      return {kind: 'private_key_jwt', key: await readKeyFile(path)}
    }
    case 'federated':
      if (!usable.federatedTokenFile && !usable.federatedTokenCommand) return without(['federatedTokenFile', 'federatedTokenCommand'], () => noFederatedToken(context))
      return {kind: 'federated', assertion: await federatedToken(context, usable)}
    default:
      throw new AuthError('UNEXPECTED', `${account.clientId} is not a machine login.`)
  }
}

function machineSettingMissing(context: AuthContext, account: AccountRecord, what: string): never {
  throw new AuthError('REAUTH_REQUIRED', `Client '${account.clientId}' at ${account.issuer} cannot get a new token without ${what}.`, {
    suggestion: `Set it again, or sign the client in again: \`${context.commands.auth('login')} --client-credentials\`.`,
  })
}

/** A private key file, read again for every new token (it may be rotated); bounded, never quoted. */
export async function readKeyFile(path: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new AuthError('CONFIG_INVALID', `Could not read the client assertion key ${path} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}).`, {
      suggestion: 'Check the path given with --client-assertion-key or the clientAssertionKey setting.',
    })
  }
  if (Buffer.byteLength(text) > MAX_TOKEN_BYTES) throw new AuthError('CONFIG_INVALID', `${path} is too large to be a private key.`)
  return text
}

/**
 * The JWT of workload identity federation, fresh for every new token: CI systems rotate it (a file
 * re-written by the runner, or a command that asks the CI system for one). Only the user's settings
 * name either (flag, environment, the user's or the host's file), never the index.
 */
export async function federatedToken(context: AuthContext, bound: BoundSettings): Promise<string> {
  const {federatedTokenFile: file, federatedTokenCommand: command} = bound
  let token: string
  if (file) {
    try {
      token = (await readFile(file, 'utf8')).trim()
    } catch (error) {
      throw new AuthError('LOGIN_FAILED', `Could not read the federated token file ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}).`, {
        suggestion: `Check ${context.settings.sources.federatedTokenFile}: the CI system writes that file for the job.`,
      })
    }
  } else if (command) {
    token = await runTokenCommand(command, context.settings.requestTimeoutSeconds * 1000, context.settings.sources.federatedTokenCommand ?? 'federatedTokenCommand', context.env)
  } else {
    noFederatedToken(context)
  }
  if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token) || token.length > MAX_TOKEN_BYTES) {
    throw new AuthError('LOGIN_FAILED', `The federated token (${file ?? 'from the command'}) is not a JWT.`, {
      suggestion: 'It must hold the compact JWT alone (three parts separated by dots), as CI systems issue it.',
    })
  }
  return token
}

function noFederatedToken(context: AuthContext): never {
  throw new AuthError('REAUTH_REQUIRED', 'This machine login gets its token from a federated JWT, and no setting says where that JWT is now.', {
    suggestion: `Set ${context.envNames.federatedTokenFile} (a file the CI system writes) or ${context.envNames.federatedTokenCommand} (a command that prints one).`,
  })
}

/** Run the command (without a shell) and take the JWT it prints; time-boxed and bounded. */
function runTokenCommand(command: string, timeoutMs: number, source: string, env: NodeJS.ProcessEnv): Promise<string> {
  const [file, ...args] = splitCommand(command)
  return new Promise((resolve, reject) => {
    if (!file) return reject(new AuthError('CONFIG_INVALID', `${source} is an empty command.`))
    const child = spawn(file, args, {stdio: ['ignore', 'pipe', 'pipe'], env})
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new AuthError('TRANSIENT', `The command that prints the federated token (${source}) did not finish within ${timeoutMs / 1000} s.`, {reason: 'the federated token command took too long', suggestion: 'Retry; if it keeps happening, check that command.'}))
    }, timeoutMs)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      if (stdout.length > MAX_TOKEN_BYTES) child.kill('SIGKILL')
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(0, 4096)))
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(new AuthError('CONFIG_INVALID', `The command that prints the federated token (${source}) could not be started (${error.code ?? 'error'}).`))
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      if (code === 0) return resolve(stdout.trim())
      const line = oneLineSafe(stderr.split('\n').find((candidate) => candidate.trim()) ?? '')
      reject(new AuthError('LOGIN_FAILED', `The command that prints the federated token (${source}) failed (exit ${code})${line ? `: ${line.slice(0, 200)}` : ''}.`))
    })
  })
}

/** What `auth login --client-credentials` was given on standard input, if anything. */
export interface MachineLoginInput {
  /** `--with-secret`: the client secret. */
  secret?: string
  /** `--client-assertion-key -`: the private key itself. */
  key?: string
}

/**
 * The credential of `auth login --client-credentials`, and what the store keeps for later tokens:
 * a key file's path (read again each time), a key or a secret given on stdin (kept like a refresh
 * token), or nothing at all when the settings give the secret or the federated token, which later
 * commands then read from the settings too.
 */
export async function machineLoginCredential(context: AuthContext, input: MachineLoginInput): Promise<{credential: ClientCredential; keep: Partial<Secrets>}> {
  // Before anything is read or run: a secret, key or federated token set for another issuer or client stops here.
  const bound = configuredSettings(context)
  if (input.key) return {credential: {kind: 'private_key_jwt', key: input.key}, keep: {clientAssertionKey: input.key}}
  if (bound.clientAssertionKey) {
    const {resolve} = await import('node:path')
    const path = resolve(bound.clientAssertionKey)
    return {credential: {kind: 'private_key_jwt', key: await readKeyFile(path)}, keep: {clientAssertionKeyPath: path}}
  }
  if (input.secret) return {credential: {kind: 'client_secret', secret: input.secret}, keep: {clientSecret: input.secret}}
  if (bound.federatedTokenFile || bound.federatedTokenCommand) return {credential: {kind: 'federated', assertion: await federatedToken(context, bound)}, keep: {}}
  if (bound.clientSecret) return {credential: {kind: 'client_secret', secret: bound.clientSecret}, keep: {}}
  throw new AuthError('USAGE', 'Signing in as a client needs its secret, its private key or a federated token, and none was given.', {
    suggestion: `Pipe the secret into --with-secret, or set ${context.envNames.clientSecret}; give a key with --client-assertion-key <file>; or set ${context.envNames.federatedTokenFile} (a JWT from your CI system).`,
  })
}
