#!/usr/bin/env node
// Local token keys: `node deploy/local/keys.mjs ensure|token [--user U] [--role user|admin] [--ttl SECONDS]`,
// or a service identity's token: `token --client C --scope 'S1 S2'` (client credentials: sub = client_id = C,
// the scopes in `scope`, no roles; RFC 9068).
//
// `ensure` writes, once, an ES256 key pair into .run/auth (git-ignored):
// private.jwk.json (mode 600, only this script reads it) and jwks.json (the
// public key, which the services read through AUTH_JWKS_FILE). `token` prints a
// token signed with it, with the issuer and audience the services expect
// (AUTH_ISSUER, AUTH_AUDIENCE, same defaults as libs/config). In Kubernetes no
// private key is anywhere near the services: the JWKS comes from a Secret or
// the identity provider's URL.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '../..');
const dir = process.env.CONVEYOR_AUTH_DIR ?? path.join(root, '.run/auth');
const privateFile = path.join(dir, 'private.jwk.json');
const jwksFile = path.join(dir, 'jwks.json');

async function ensureKeys() {
  if (existsSync(privateFile) && existsSync(jwksFile)) return JSON.parse(readFileSync(privateFile, 'utf8'));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  // Written beside and renamed into place, so a service never reads half a file.
  writeFileSync(`${privateFile}.tmp`, JSON.stringify(privateJwk), { mode: 0o600 });
  writeFileSync(`${jwksFile}.tmp`, JSON.stringify({ keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }] }, null, 2));
  renameSync(`${privateFile}.tmp`, privateFile);
  renameSync(`${jwksFile}.tmp`, jwksFile);
  process.stderr.write(`keys: wrote a new ES256 key pair (kid ${kid}) to ${path.relative(process.cwd(), dir) || '.'}\n`);
  return privateJwk;
}

/** The claims of a user token (`--user`, `--role`) or, with `--client`, of a service identity (`--scope`). */
function claimsOf({ user, role, client, scope }) {
  if (client === undefined || client === '') {
    if (scope) throw new Error('--scope is for a service identity: give --client too');
    if (!['user', 'admin'].includes(role)) throw new Error(`--role must be user or admin, not ${role}`);
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(user)) throw new Error('--user must be 1 to 64 letters, digits or ._@-');
    return { subject: user, payload: { roles: [role] } };
  }
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(client)) throw new Error('--client must be 1 to 64 letters, digits or ._@-');
  const scopes = (scope ?? '').split(' ').filter(Boolean);
  if (scopes.length === 0 || scopes.some((s) => !/^[A-Za-z0-9._:-]+$/.test(s)))
    throw new Error('--scope must be one or more scopes (letters, digits, ._:-), space-separated');
  return { subject: client, payload: { client_id: client, scope: scopes.join(' ') } };
}

async function token({ ttl, ...who }) {
  const { subject, payload } = claimsOf(who);
  const privateJwk = await ensureKeys();
  const key = await importJWK(privateJwk, 'ES256');
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid: privateJwk.kid, typ: 'JWT' })
    .setSubject(subject)
    .setIssuer(process.env.AUTH_ISSUER || 'conveyor-local')
    .setAudience(process.env.AUTH_AUDIENCE || 'conveyor')
    .setIssuedAt()
    .setExpirationTime(`${Number(ttl)}s`)
    .sign(key);
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    user: { type: 'string', default: 'user-1' },
    role: { type: 'string', default: 'user' },
    client: { type: 'string' },
    scope: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
  },
});
try {
  switch (positionals[0] ?? 'ensure') {
    case 'ensure':
      await ensureKeys();
      break;
    case 'token':
      process.stdout.write(`${await token(values)}\n`);
      break;
    default:
      throw new Error(`unknown command ${positionals[0]}; use ensure or token`);
  }
} catch (error) {
  process.stderr.write(`keys: ${error.message}\n`);
  process.exit(1);
}
