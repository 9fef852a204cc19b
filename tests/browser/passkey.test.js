// Passkeys (SPEC §4.1) in headless Chromium with its virtual authenticator (CDP's WebAuthn
// domain), in the daiwakenpo example realm through the demo portal: a member who chose 生体認証
// enrols a passkey at the end of the first login (「セキュリティの設定」 → the ceremony → naming,
// 「パスキー」 by default) and then logs in with it (「パスキーでログイン」); a second device's
// enrolment refuses a name already used; a ceremony without user verification fails with
// 「セキュリティーキー・エラー」, and 「再試行してください」 succeeds once the member is verified.
// Screenshots: artifacts/screenshots/passkey-*.png.
//
//   cargo build -p monban-server -p monban-portal-demo -p monban-smtp-sink && cd tests/browser && npm install && npm test

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newContext, screenshot, startStack } from './harness.js';
import { arriveAtPortal, completeSetUp, heading, logIn, submitAndWait } from './set-up.js';
import { virtualAuthenticator } from './webauthn.js';

const T = {
  setupTitle: 'セキュリティの設定',
  loginTitle: 'パスキーでログイン',
  errorTitle: 'セキュリティーキー・エラー',
  registerFailed: 'セキュリティーキーの登録結果が無効です。',
  loginFailed: 'セキュリティーキーの認証結果が無効です。',
  retry: '再試行してください',
  next: '次へ',
  signOutAll: '全てのデバイスからサインアウトする',
  nameLabel: 'このデバイスに名前を付けてください（機種変更時に過去デバイスとの識別が可能となります。）',
  defaultName: 'パスキー',
  nameTaken: 'この名前は既に使用されています。別の名前を入力してください。',
  method: '生体認証',
};
const TITLE = '大和総研健保加入者ページ';
const PHONE = { width: 390, height: 844 };

async function assertPage(page, title) {
  assert.equal(await heading(page), title, `the page ${title}`);
  assert.equal(await page.title(), `${title} - ${TITLE}`, `the tab title of ${title}`);
}

async function alertText(page) {
  return (await page.getByRole('alert').textContent()).trim();
}

/** Checks the page fits a phone, and photographs it at phone and PC width. */
async function look(page, name) {
  const previous = page.viewportSize();
  await page.setViewportSize(PHONE);
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  assert.ok(fits, `${name} is wider than a phone`);
  await screenshot(page, `passkey-${name}-phone`);
  await page.setViewportSize(previous);
  await screenshot(page, `passkey-${name}-pc`);
}

/** The naming page after a successful ceremony: types `name` and presses OK. */
async function namePasskey(page, name, { typed = T.defaultName } = {}) {
  await assertPage(page, T.setupTitle);
  const label = (await page.locator('label[for="passkey-name"]').textContent()).trim();
  assert.equal(label, T.nameLabel);
  assert.equal(await page.locator('#passkey-name').inputValue(), typed, 'named 「パスキー」 unless the member changes it');
  await page.locator('#passkey-name').fill(name);
  await submitAndWait(page, page.getByRole('button', { name: 'OK', exact: true }));
}

describe('passkeys in daiwakenpo (SPEC §4.1)', () => {
  let stack;
  const USER_ID = 'daiwa.hana1';
  const PASSWORD = 'd00000001';
  before(async () => {
    stack = await startStack({ realm: 'daiwakenpo' });
  });
  after(async () => {
    await stack?.stop();
  });

  const it = (name, fn) => test(name, async () => {
    try {
      await fn();
    } catch (error) {
      stack.failed = true;
      throw error;
    }
  });

  it('a member who chose 生体認証 enrols a passkey before the portal, then logs in with it', async () => {
    const member = stack.members[1];
    const context = await newContext(stack);
    try {
      const page = await context.newPage();
      const phone = await virtualAuthenticator(page);
      await logIn(stack, page, member.userId, member.password);
      const next = await completeSetUp(page, member, {
        userId: USER_ID, password: PASSWORD, email: 'hana.new@daiwakenpo.example', method: T.method,
      });
      assert.equal(next, T.setupTitle, 'the enrolment comes before the portal');
      await assertPage(page, T.setupTitle);
      assert.equal((await page.locator('label[for="logout-sessions"]').textContent()).trim(), T.signOutAll);
      await look(page, '01-setup');
      await submitAndWait(page, page.getByRole('button', { name: T.next, exact: true }));
      await look(page, '02-name');
      await namePasskey(page, T.defaultName);
      const claims = await arriveAtPortal(stack, page, member);
      assert.equal(claims.preferred_username, USER_ID);
      assert.equal((await phone.credentials()).length, 1, 'one passkey on the authenticator');
    } finally {
      await context.close();
    }

  });

  it('the passkey logs in; a second device refuses a name already used; a ceremony without user verification shows the error page and its retry succeeds', async () => {
    const member = stack.members[0];
    const userId = 'daiwa.taro1';
    const password = 'd00000000';
    const context = await newContext(stack);
    try {
      const page = await context.newPage();
      const phone = await virtualAuthenticator(page);
      await logIn(stack, page, member.userId, member.password);
      await completeSetUp(page, member, {
        userId, password, email: 'taro.new@daiwakenpo.example', method: T.method,
      });
      await submitAndWait(page, page.getByRole('button', { name: T.next, exact: true }));
      await namePasskey(page, T.defaultName);
      await arriveAtPortal(stack, page, member);
      await context.clearCookies();

      // Log in again with the passkey.
      await logIn(stack, page, userId, password);
      await assertPage(page, T.loginTitle);
      await look(page, '03-login');
      await submitAndWait(page, page.getByRole('button', { name: T.next, exact: true }));
      const claims = await arriveAtPortal(stack, page, member);
      assert.equal(claims.acr, '2', 'a second factor was used');
      await context.clearCookies();

      // Without user verification the ceremony fails: the error page, then a retry that works.
      await phone.verifyUser(false);
      await logIn(stack, page, userId, password);
      await assertPage(page, T.loginTitle);
      await submitAndWait(page, page.getByRole('button', { name: T.next, exact: true }));
      await assertPage(page, T.errorTitle);
      assert.equal(await alertText(page), T.loginFailed);
      await look(page, '04-login-error');
      await phone.verifyUser(true);
      await submitAndWait(page, page.getByRole('button', { name: T.retry, exact: true }));
      await arriveAtPortal(stack, page, member);
      await context.clearCookies();

      // A second device: the society asks the member to enrol another passkey.
      await stack.monban('user', 'require-action', '--realm', 'daiwakenpo', '--user-id', userId, 'register-passkey');
      await logIn(stack, page, userId, password);
      await assertPage(page, T.loginTitle);
      await submitAndWait(page, page.getByRole('button', { name: T.next, exact: true }));
      await assertPage(page, T.setupTitle);
      // The new device is another authenticator, and it cannot verify the member at first.
      await phone.remove();
      const tablet = await virtualAuthenticator(page, { userVerified: false });
      await submitAndWait(page, page.getByRole('button', { name: T.next, exact: true }));
      await assertPage(page, T.errorTitle);
      assert.equal(await alertText(page), T.registerFailed);
      await look(page, '05-register-error');
      await tablet.verifyUser(true);
      await submitAndWait(page, page.getByRole('button', { name: T.retry, exact: true }));
      await namePasskey(page, T.defaultName);
      await assertPage(page, T.setupTitle);
      assert.equal(await alertText(page), T.nameTaken, 'a name the member already uses is refused');
      await look(page, '06-name-taken');
      await namePasskey(page, 'iPad', { typed: T.defaultName });
      await arriveAtPortal(stack, page, member);
      assert.equal((await tablet.credentials()).length, 1, 'the second passkey is on the tablet');
      await context.clearCookies();

      // The tablet's passkey logs in too.
      await logIn(stack, page, userId, password);
      await submitAndWait(page, page.getByRole('button', { name: T.next, exact: true }));
      await arriveAtPortal(stack, page, member);
    } finally {
      await context.close();
    }
  });
});
