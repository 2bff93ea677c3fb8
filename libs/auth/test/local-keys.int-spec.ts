import { authEnv, parseEnv } from '@conveyor/config';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TokenVerifier } from '../src';

const workspaceRoot = path.resolve(__dirname, '../../..');

describe('deploy/local/keys.mjs (make token)', () => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'conveyor-keys-')), 'auth');
  const keys = (...args: string[]) =>
    execFileSync(process.execPath, [path.join(workspaceRoot, 'deploy/local/keys.mjs'), ...args], {
      env: { ...process.env, CONVEYOR_AUTH_DIR: dir, AUTH_ISSUER: '', AUTH_AUDIENCE: '' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();

  it('When a token is asked for, then a service with the default settings and the generated JWKS accepts it', async () => {
    const token = keys('token', '--user', 'alice', '--role', 'admin');
    // The services' defaults: AUTH_JWKS_FILE=.run/auth/jwks.json, issuer conveyor-local, audience conveyor.
    const verifier = new TokenVerifier(parseEnv('test', authEnv, { AUTH_JWKS_FILE: path.join(dir, 'jwks.json') }));
    await expect(verifier.verify(token)).resolves.toEqual({ id: 'alice', kind: 'user', roles: ['admin'], scopes: [] });
  });

  it('When keys exist, then they are kept: later tokens verify against the same JWKS, and the private key is private', async () => {
    const jwks = readFileSync(path.join(dir, 'jwks.json'), 'utf8');
    keys('ensure');
    const token = keys('token');
    expect(readFileSync(path.join(dir, 'jwks.json'), 'utf8')).toBe(jwks);
    expect(jwks).not.toContain('"d"');
    expect(statSync(path.join(dir, 'private.jwk.json')).mode & 0o077).toBe(0);
    const verifier = new TokenVerifier(parseEnv('test', authEnv, { AUTH_JWKS_FILE: path.join(dir, 'jwks.json') }));
    await expect(verifier.verify(token)).resolves.toEqual({ id: 'user-1', kind: 'user', roles: ['user'], scopes: [] });
  });

  it('When a service token is asked for (make token CLIENT=… SCOPE=…), then it verifies as that service identity with its scopes', async () => {
    const token = keys('token', '--client', 'lessons', '--scope', 'points:activities');
    const verifier = new TokenVerifier(parseEnv('test', authEnv, { AUTH_JWKS_FILE: path.join(dir, 'jwks.json') }));
    await expect(verifier.verify(token)).resolves.toEqual({ id: 'lessons', kind: 'service', roles: [], scopes: ['points:activities'] });
    expect(() => keys('token', '--client', 'lessons')).toThrow(/--scope must be/);
  });
});
