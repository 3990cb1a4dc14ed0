// Placeholder entry point so the CDK stack can bundle something while the lifecycle handler is built (issue 5).
export function handler(): Promise<never> {
  return Promise.reject(new Error('the lifecycle handler is not implemented yet'));
}
