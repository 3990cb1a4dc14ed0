// The etcd releases the stack can install, with the SHA-256 of each upstream release tarball
// (`etcd-v<version>-linux-<arch>.tar.gz` from github.com/etcd-io/etcd/releases). The ONE place that pins them.
//
// Source of the sums: kubernetes-sigs/kubespray, roles/kubespray_defaults/vars/main/checksums.yml
// (`etcd_binary_checksums`, commit 46dbdd3994b32640bcd806b0097f50e8fdf1d514), which kubespray's own downloads of
// those exact tarballs verify against. Copied for 3.5.20 and later only: 3.5.1-3.5.19 record a learner promotion
// only in the v2 store, and a later move to 3.6 can turn promoted voters back into learners (etcd-io/etcd#19557);
// every member of this stack is a promoted learner. To add a release: take the sums from the release's
// SHA256SUMS file (and a second source), add them here, and a test pins the default.

export type EtcdArchitecture = 'amd64' | 'arm64';
export const ETCD_ARCHITECTURES: readonly EtcdArchitecture[] = ['amd64', 'arm64'];

/** The release the stack installs unless told otherwise: the 3.5 build the test suites run. */
export const DEFAULT_ETCD_VERSION = '3.5.30';
/** No release below this is accepted (etcd-io/etcd#19557). */
export const MINIMUM_ETCD_VERSION = '3.5.20';

export const ETCD_RELEASE_SHA256: Readonly<Record<string, Readonly<Record<EtcdArchitecture, string>>>> = {
  '3.5.20': {
    amd64: '9ac85616fb8c0e45f485074dde0258ca2b7b42f1dd5320821af5a8b66daf7072',
    arm64: 'f034232e6fb64b0d89c45fd78b8b4c3e9fb8d69605dddddcdebf5d7cd96a1531',
  },
  '3.5.21': {
    amd64: 'adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c',
    arm64: '95bf6918623a097c0385b96f139d90248614485e781ec9bee4768dbb6c79c53f',
  },
  '3.5.22': {
    amd64: '20174ab70a6f3df94da13ecac4610f42c47d25af82426f21c112c2c841ec499a',
    arm64: '22aca5a253c4a9f2850300b0a1dd209587586ff0e985f5cb1c34e9e5edc07848',
  },
  '3.5.23': {
    amd64: '8b50d62d38cb2de005b42227dd14b33f6e01758970f248f9257789ecfaf634c9',
    arm64: 'd95118595a9556a29775f99c1ef2ee16f6be113df76b7178643a2bfd6a6f37c3',
  },
  '3.5.24': {
    amd64: '042497e2ddcee06f22e5d486d81f58affa26b53ee423e2a6aaca3d3ea98c8191',
    arm64: 'efc01f6b3fbef0f000cb53bcad4845c116d7fdd8769ca39d9c40d2fe4d2e509f',
  },
  '3.5.25': {
    amd64: '168af82b59772e1811a9af7b358d42f5c6df44e0d9767afb006ecf12c4bbd607',
    arm64: '419dce0b679df31cc45201ef2449b7a6a48e9d241af01741957c9ac86a35badc',
  },
  '3.5.26': {
    amd64: '0a682a91201dc8351d507210bc30b021a11e254eab806f03224b51e8fad29abb',
    arm64: '93ac1667df0e178ea6d152476ce4088df4075604fe4bc7f85f4719e863cd030b',
  },
  '3.5.27': {
    amd64: '0aad9a9e4e0817a021e933f9806a2b2960a62f949ad5a3d6436d8886945cb1bc',
    arm64: '1277309f540c5a0329c428f95455c9f76d24f768c8d28fd2753e891c379053fa',
  },
  '3.5.28': {
    amd64: 'e11b6fab2ffbf0a1d6ee8f6227594045a19e0974ec779c42b8b5bb1942b2abe0',
    arm64: '779a741604d2ff45240b277812f6c300bca71754adfd8de1436a3f2df3a18e67',
  },
  '3.5.29': {
    amd64: '7692f812db0bfeee3a731c45046864cf729e552bad82ce7cb5b507053d033267',
    arm64: '10817d916de91fdab373947977682e083f0a1ac7f37650c1b690c2a746e4c269',
  },
  '3.5.30': {
    amd64: 'a495115162845640be08c6cda069ff961260dbced53207c5a83b1b006ff2ea8e',
    arm64: '4d19473d2567a58e1dbf556e0813b91d506666e58d23bfd5370660c67639eb5e',
  },
  '3.5.31': {
    amd64: 'e76b75c73b10196dfeb1c52fcdf9f4014e51f3082f65f28fb2e69a7bec1f916b',
    arm64: '1fc441acb75486c076db0900470b18da61ee529a5d54df7c619dfc12dd13b984',
  },
  '3.5.32': {
    amd64: '83532f9290ee89106c4c9d0467220f65623c1faadaab800d727f7beccce4d7dd',
    arm64: '89f3ec49bc026c77ab5862c34f0623f09b48ec75e659082c92829669c6e36b3c',
  },
  '3.5.33': {
    amd64: '5025b5b24d81a9616b6e284ccd439b9a3df055ef8fdcdc142af3ec8f6a3b3c95',
    arm64: '0764c5c0acef155f4bfa0487791cc5776adef66315bf16ec0653883bfd463a90',
  },
};

export class InvalidEtcdReleaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEtcdReleaseError';
  }
}

/** A release to install: its version, the machine architecture and the tarball's expected SHA-256. */
export interface EtcdRelease {
  readonly version: string;
  readonly architecture: EtcdArchitecture;
  readonly sha256: string;
}

const VERSION = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/;
const SHA256 = /^[0-9a-f]{64}$/;

function parseVersion(version: string): [number, number, number] | undefined {
  const match = VERSION.exec(version);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

function compareVersions(a: [number, number, number], b: [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * The release to install for `version` on `architecture`: refuses versions that are malformed, pre-releases,
 * below MINIMUM_ETCD_VERSION, or without a known checksum (pinned above, or `sha256` given by the user).
 */
export function resolveEtcdRelease(version: string, architecture: EtcdArchitecture, sha256?: string): EtcdRelease {
  const parsed = parseVersion(version);
  if (parsed === undefined) {
    throw new InvalidEtcdReleaseError(`etcdVersion ${JSON.stringify(version)}: expected a release version such as ${DEFAULT_ETCD_VERSION}`);
  }
  const minimum = parseVersion(MINIMUM_ETCD_VERSION) ?? fail('bad MINIMUM_ETCD_VERSION');
  if (compareVersions(parsed, minimum) < 0) {
    throw new InvalidEtcdReleaseError(
      `etcdVersion ${version}: below ${MINIMUM_ETCD_VERSION}; etcd 3.5.1-3.5.19 keep a learner promotion only in the v2 store and a later upgrade to 3.6 can turn voters back into learners (etcd-io/etcd#19557)`,
    );
  }
  if (sha256 !== undefined) {
    if (!SHA256.test(sha256)) {
      throw new InvalidEtcdReleaseError(
        `etcdSha256 for ${architecture} ${JSON.stringify(sha256)}: expected 64 lowercase hexadecimal digits`,
      );
    }
    return { version, architecture, sha256 };
  }
  const pinned = ETCD_RELEASE_SHA256[version]?.[architecture];
  if (pinned === undefined) {
    throw new InvalidEtcdReleaseError(
      `etcdVersion ${version}: no SHA-256 is pinned for etcd-v${version}-linux-${architecture}.tar.gz; pass etcdSha256 with the sum from the release's SHA256SUMS, or pick one of ${Object.keys(ETCD_RELEASE_SHA256).join(', ')}`,
    );
  }
  return { version, architecture, sha256: pinned };
}

function fail(message: string): never {
  throw new Error(message);
}
