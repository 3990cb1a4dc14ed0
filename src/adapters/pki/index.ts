// The cluster's certificate authority: create it, issue member and client certificates, check certificates.
export {
  CertificateError,
  checkCertificate,
  createCertificateAuthority,
  issueClientCertificate,
  issueMemberCertificate,
  loadCertificateAuthority,
  type CertificateAndKey,
  type CertificateFacts,
  type CheckCertificateInput,
  type ClientCertificateOptions,
  type CreateCaOptions,
  type LoadedCertificateAuthority,
  type MemberCertificateOptions,
  type PemInput,
} from './certificates.js';
