import { startStack, newContext } from './harness.js';
const stack = await startStack({ loginSeconds: 3 });
const log = async (page, what) => console.log(`== ${what}: ${page.url()}\n`, (await page.locator('main').innerText().catch(()=>'(no main)')).slice(0,400));
try {
  const ctx = await newContext(stack); const page = await ctx.newPage();
  page.on('response', r => { if (r.request().resourceType()==='document') console.log('  ', r.status(), r.request().method(), r.url().slice(0,110)); });
  // expired login
  await page.goto(stack.portalUrl + '/login');
  await page.waitForTimeout(4500);
  await page.fill('#username', 'demo0001'); await page.fill('#password', 'Demo-pass1'); await page.click('#login');
  await page.waitForLoadState(); await log(page, 'submit after expiry');
  await page.screenshot({ path: '/work/main/artifacts/screenshots/debug-expired.png', fullPage: true });
  // back link on expiry page
  const links = await page.locator('a').evaluateAll(as => as.map(a => a.textContent.trim() + ' -> ' + a.href)); console.log(links);
  // reload of an expired login page
  await page.goto(stack.portalUrl + '/login'); const loginUrl = page.url();
  await page.waitForTimeout(4500); await page.reload(); await log(page, 'reload after expiry');
  // lockout
  await page.goto(stack.portalUrl + '/login');
  for (let i = 1; i <= 6; i++) { await page.fill('#username', 'demo0002'); await page.fill('#password', 'Wrong-pass' + i); await page.click('#login'); await page.waitForLoadState(); console.log(i, await page.locator('[role=alert]').innerText()); }
  await page.fill('#username', 'demo0002'); await page.fill('#password', 'Demo-pass2'); await page.click('#login'); await page.waitForLoadState();
  console.log('right pw while locked:', page.url().slice(0,60), await page.locator('[role=alert]').innerText().catch(()=>'-'));
  // lockout for unknown user after 6 tries?
  for (let i = 1; i <= 6; i++) { await page.fill('#username', 'ghostuser1'); await page.fill('#password', 'Wrong-pass' + i); await page.click('#login'); await page.waitForLoadState(); }
  console.log('unknown after 6:', await page.locator('[role=alert]').innerText());
  // remember me + back button
  await page.fill('#username', 'demo0001'); await page.fill('#password', 'Demo-pass1'); await page.check('#rememberMe'); await page.click('#login');
  await page.waitForURL(u => String(u) === stack.portalUrl + '/');
  console.log((await ctx.cookies()).map(c => `${c.name} domain=${c.domain} port? path=${c.path} expires=${c.expires} httpOnly=${c.httpOnly} sameSite=${c.sameSite}`));
  await page.goBack(); await page.waitForLoadState(); await log(page, 'back after login');
  await page.goBack(); await page.waitForLoadState(); await log(page, 'back x2');
} finally { stack.failed = true; await stack.stop(); }
