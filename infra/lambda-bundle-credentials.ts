// Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundle (see LAMBDA_BUNDLE_OPTIONS.alias).
// Every SDK client imports that package's default chain whether or not it is given credentials: environment,
// SSO, INI files, credential processes, web identity, container and instance metadata, and with them the STS,
// SSO and sign-in clients (about 100 KiB of the bundle). Lambda always hands the function's role credentials to
// the code in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), which is what the
// chain's first link reads: this is that link alone. Anything else (the CLI on an instance, tests run from
// source) keeps the whole chain. Were the function ever run where its credentials come another way, every AWS call
// would fail at once with "Unable to find environment variable credentials", never sign with something else.
import { fromEnv, type FromEnvInit } from '@aws-sdk/credential-provider-env';

/** The SDK's default credentials for a Lambda function: the environment's, or an error saying they are missing. */
export const defaultProvider = (init?: FromEnvInit): ReturnType<typeof fromEnv> => fromEnv(init);
