// dist/cjs holds CommonJS output; the package is "type": "module", so mark that folder as CommonJS.
require('node:fs').writeFileSync(require('node:path').join(__dirname, '..', 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
