/**
 * The private-network rule as a pure function over addresses: every range it names, the edges just
 * outside them, IPv4 carried inside IPv6, and what is not an address (refused: the check fails closed).
 */
import { publicOnlyLookup } from '../../main/tools/builtins/pinned-fetch';
import { ipv6Groups, isPrivateAddress } from '../../main/tools/builtins/private-address';

test('IPv4: loopback, private, link-local, carrier-grade NAT, "this network" and broadcast are private', () => {
  for (const a of [
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.0.1',
    '192.168.255.255', '169.254.169.254', '169.254.0.1', '100.64.0.1', '100.127.255.255', '0.0.0.0', '0.1.2.3', '255.255.255.255',
  ]) expect([a, isPrivateAddress(a)]).toEqual([a, true]);
});

test('IPv4: the addresses just outside each range, and public ones, are not', () => {
  for (const a of [
    '126.255.255.255', '128.0.0.1', '9.255.255.255', '11.0.0.0', '172.15.255.255', '172.32.0.0', '192.167.255.255',
    '192.169.0.0', '169.253.255.255', '169.255.0.0', '100.63.255.255', '100.128.0.0', '1.0.0.0', '8.8.8.8', '93.184.216.34', '203.0.113.7',
    '191.255.255.255', '192.0.1.0', '198.17.255.255', '198.20.0.0', '223.255.255.255',
  ]) expect([a, isPrivateAddress(a)]).toEqual([a, false]);
});

test('IPv4: the protocol assignments, benchmarking, multicast and reserved ranges are private', () => {
  for (const a of ['192.0.0.1', '192.0.0.255', '198.18.0.1', '198.19.255.255', '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255']) {
    expect([a, isPrivateAddress(a)]).toEqual([a, true]);
  }
});

test('IPv6: loopback, unspecified, unique-local, link-local (with a zone), site-local and multicast are private', () => {
  for (const a of ['::1', '[::1]', '::', 'fc00::1', 'fdff:ffff::1', 'fe80::1', 'fe80::1%eth0', 'febf::1', 'fec0::1', '0:0:0:0:0:0:0:1', 'ff02::1', 'ff0e::1']) {
    expect([a, isPrivateAddress(a)]).toEqual([a, true]);
  }
  for (const a of ['2001:4860:4860::8888', '2606:4700::1111', 'fbff::1', 'fe7f::1', 'fe00::1', '2a00:1450:4001::200e']) {
    expect([a, isPrivateAddress(a)]).toEqual([a, false]);
  }
});

test('IPv4 inside IPv6 (mapped, compatible, NAT64) counts as the IPv4 address it carries', () => {
  for (const a of ['::ffff:127.0.0.1', '::ffff:7f00:1', '::FFFF:10.1.2.3', '::ffff:169.254.169.254', '::ffff:c0a8:101', '::127.0.0.1', '64:ff9b::10.0.0.1', '::ffff:0.0.0.0']) {
    expect([a, isPrivateAddress(a)]).toEqual([a, true]);
  }
  for (const a of ['::ffff:8.8.8.8', '::ffff:808:808', '64:ff9b::8.8.8.8']) expect([a, isPrivateAddress(a)]).toEqual([a, false]);
});

test('what is not an IP address counts as private (fails closed)', () => {
  for (const a of ['', 'localhost', 'example.com', '256.0.0.1', '1.2.3', '::g', '1:2:3:4:5:6:7:8:9']) expect([a, isPrivateAddress(a)]).toEqual([a, true]);
});

test('IPv6 groups: "::" expands where it stands, a dotted tail becomes two groups', () => {
  expect(ipv6Groups('::1')).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
  expect(ipv6Groups('fe80::')).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 0]);
  expect(ipv6Groups('1:2::7:8')).toEqual([1, 2, 0, 0, 0, 0, 7, 8]);
  expect(ipv6Groups('::ffff:192.168.1.1')).toEqual([0, 0, 0, 0, 0, 0xffff, 0xc0a8, 0x0101]);
  expect(ipv6Groups('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(ipv6Groups('10.0.0.1')).toBeNull();
});

describe('the connection\'s lookup (pinned fetch)', () => {
  const lookup = async (host: string) => (host === 'pub.test' ? [{ address: '203.0.113.7', family: 4 }, { address: '2001:db8::1', family: 6 }] : [{ address: '192.168.1.1', family: 4 }]);
  const ask = (host: string, options: object) =>
    new Promise<unknown[]>((resolve) => publicOnlyLookup(lookup)(host, options, (...answer: unknown[]) => resolve(answer)));

  test('answers a public name in the form net.connect asks for (one address of a family, or all)', async () => {
    expect(await ask('pub.test', {})).toEqual([null, '203.0.113.7', 4]);
    expect(await ask('pub.test', { family: 6 })).toEqual([null, '2001:db8::1', 6]);
    expect(await ask('pub.test', { all: true })).toEqual([null, [{ address: '203.0.113.7', family: 4 }, { address: '2001:db8::1', family: 6 }]]);
  });

  test('fails a private answer', async () => {
    const [error] = await ask('lan.test', { all: true });
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^refused: lan\.test \(192\.168\.1\.1\) is a private-network address/);
  });
});
