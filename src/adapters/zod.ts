// The one way into zod for this project: `zod/mini`, the tree-shakable build of the same library (the Lambda
// bundle keeps only the schemas and checks it uses), with the English messages classic zod loads on its own.
// Without them every issue would read "Invalid input"; with them an error names what was expected, as before.
// Import it as a namespace (`import * as z from '../zod.js'`): esbuild then keeps only the members used.
import { config } from 'zod/mini';
import { en } from 'zod/locales';

config(en());

export * from 'zod/mini';
