// Stands in for the `debug` package in the Lambda bundle (see LAMBDA_BUNDLE_OPTIONS.alias). axios' redirect
// follower and proxy agent log through it, and only when the DEBUG variable names them, which the function's
// environment never does. CommonJS, as its callers require() it: some call the export, some its `default`.
'use strict';

const silent = Object.assign(() => {}, { enabled: false });
silent.extend = () => silent;

module.exports = () => silent;
