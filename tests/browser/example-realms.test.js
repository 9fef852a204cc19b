// Both example realms, each second factor (SPEC §4): in daiwakenpo and in ajinomotokenpo, one
// member per method goes through the first login choosing it (生体認証, ワンタイムパスワード (OTP)
// アプリ認証, ワンタイムパスワード (OTP) メール認証), enrols what needs enrolling before the
// portal, and then logs in again with it: the passkey on Chromium's virtual authenticator, the
// app's codes from otplib (not Monban's code), the mailed code from the SMTP sink. The pages
// themselves are looked at closely in first-login, passkey and otp-app.test.js.
//
//   cargo build -p monban-server -p monban-portal-demo -p monban-smtp-sink && cd tests/browser && npm install && npm test

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'otplib';
import { newContext, startStack } from './harness.js';
import { arriveAtPortal, completeSetUp, heading, logIn, submitAndWait } from './set-up.js';
import { virtualAuthenticator } from './webauthn.js';

const PERIOD = 30;
const stepNow = () => Math.floor(Date.now() / 1000 / PERIOD);
const codeOfStep = (key, step) => generate({ secret: key, epoch: step * PERIOD });

/** What each method asks: once at the end of the first login, and at every later login. */
const METHODS = {
  passkey: {
    label: '生体認証',
    async prepare(page) {
      return { phone: await virtualAuthenticator(page) };
    },
    async enrol(page, title) {
      assert.equal(title, 'セキュリティの設定');
      await submitAndWait(page, page.getByRole('button', { name: '次へ', exact: true }));
      await submitAndWait(page, page.getByRole('button', { name: 'OK', exact: true }));
    },
    async prove(page, title) {
      assert.equal(title, 'パスキーでログイン');
      await submitAndWait(page, page.getByRole('button', { name: '次へ', exact: true }));
    },
  },
  otpApp: {
    label: 'ワンタイムパスワード (OTP) アプリ認証',
    async prepare() {
      return {};
    },
    async enrol(page, title, state) {
      assert.equal(title, 'ワンタイムパスワードの設定');
      await submitAndWait(page, page.getByRole('button', { name: 'スキャンできませんか？', exact: true }));
      state.key = (await page.locator('#otp-key').textContent()).replaceAll(' ', '');
      state.step = stepNow();
      await page.locator('#totp').fill(await codeOfStep(state.key, state.step));
      await page.locator('#userLabel').fill('iPhone');
      await submitAndWait(page, page.getByRole('button', { name: '実行', exact: true }));
    },
    async prove(page, title, state) {
      assert.equal(title, 'ワンタイムパスワードの入力');
      // The set-up spent its step's code; the next step's is within the realm's window.
      await page.getByLabel('ワンタイムパスワード', { exact: true }).fill(await codeOfStep(state.key, state.step + 1));
      await submitAndWait(page, page.getByRole('button', { name: 'トップページへ', exact: true }));
    },
  },
  otpMail: {
    label: 'ワンタイムパスワード (OTP) メール認証',
    async prepare() {
      return {};
    },
    async enrol(_page, title) {
      assert.equal(title, null, 'nothing to enrol: the address is set up already');
    },
    async prove(page, title, state, stack) {
      assert.equal(title, 'ワンタイムパスワード (OTP) メール認証');
      const mail = await stack.nextMail();
      const code = /ワンタイムパスワード：(\d{6})/.exec(mail.text)?.[1];
      assert.ok(code, `a code in the mail:\n${mail.text}`);
      await page.getByLabel('ワンタイムパスワード', { exact: true }).fill(code);
      await submitAndWait(page, page.getByRole('button', { name: '実行', exact: true }));
    },
  },
};

for (const realm of ['daiwakenpo', 'ajinomotokenpo']) {
  describe(`${realm}: each second factor, enrolled at the first login and asked at the next`, () => {
    let stack;
    before(async () => {
      stack = await startStack({ realm });
    });
    after(async () => {
      await stack?.stop();
    });

    Object.entries(METHODS).forEach(([name, method], index) => {
      test(`${method.label}`, async () => {
        const member = stack.members[index];
        const userId = `${realm.slice(0, 5)}.${name.toLowerCase()}`.slice(0, 13);
        const password = `Passw0rd-${index}`;
        const context = await newContext(stack);
        try {
          const page = await context.newPage();
          const state = await method.prepare(page);
          await logIn(stack, page, member.userId, member.password);
          const next = await completeSetUp(page, member, {
            userId, password, email: `${name.toLowerCase()}@${realm}.example`, method: method.label, stack,
          });
          await method.enrol(page, next, state);
          const first = await arriveAtPortal(stack, page, member);
          assert.equal(first.preferred_username, userId);

          await context.clearCookies();
          await logIn(stack, page, userId, password);
          await method.prove(page, await heading(page), state, stack);
          const claims = await arriveAtPortal(stack, page, member);
          assert.equal(claims.acr, '2', 'the second factor was asked');
        } catch (error) {
          stack.failed = true;
          throw error;
        } finally {
          await context.close();
        }
      });
    });
  });
}
