// SPEC §2: a login page left open too long must not show a raw error, but a friendly page that
// explains the time-out and leads back to the portal. Own stack, with a 2-second login lifetime.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MEMBERS, newContext, screenshot, startStack } from './harness.js';

const [TARO] = MEMBERS;
const LOGIN_SECONDS = 2;
let stack;

describe('expired login page (SPEC §2)', () => {
  before(async () => {
    stack = await startStack({ loginSeconds: LOGIN_SECONDS });
  });

  after(async () => {
    await stack?.stop();
  });

  test('submitting a login page left open too long shows a friendly page, then logging in works', async () => {
    const context = await newContext(stack);
    try {
      const page = await context.newPage();
      await page.goto(`${stack.portalUrl}/`);
      await page.getByRole('link', { name: 'ログイン', exact: true }).click();
      await page.locator('#login-form').waitFor();
      await page.waitForTimeout((LOGIN_SECONDS + 1.5) * 1000);

      await page.getByLabel('ユーザID', { exact: true }).fill(TARO.userId);
      await page.getByLabel('パスワード', { exact: true }).fill(TARO.password);
      await page.getByRole('button', { name: 'ログイン', exact: true }).click();

      await page.getByRole('heading', { name: 'ログインの有効期限切れ', exact: true }).waitFor();
      assert.equal(
        (await page.locator('#message').textContent()).trim(),
        'ログイン画面を開いてから時間が経過したため、ログインの有効期限が切れました。お手数ですが、ポータルからもう一度ログインしてください。',
      );
      await screenshot(page, 'login-expired-desktop');

      await page.getByRole('link', { name: 'ポータルに戻る', exact: true }).click();
      await page.waitForURL((url) => String(url) === `${stack.portalUrl}/`);

      await page.getByRole('link', { name: 'ログイン', exact: true }).click();
      await page.getByLabel('ユーザID', { exact: true }).fill(TARO.userId);
      await page.getByLabel('パスワード', { exact: true }).fill(TARO.password);
      await page.getByRole('button', { name: 'ログイン', exact: true }).click();
      await page.waitForURL((url) => String(url) === `${stack.portalUrl}/`);
      assert.equal((await page.locator('#welcome').textContent()).trim(), `ようこそ、${TARO.displayName} さん`);
    } catch (error) {
      stack.failed = true;
      throw error;
    } finally {
      await context.close();
    }
  });
});
