// Stands in for the `form-data` package in the Lambda bundle (see LAMBDA_BUNDLE_OPTIONS.alias): Node's own
// FormData, which axios uses for multipart bodies whenever the runtime has one.
export default globalThis.FormData;
