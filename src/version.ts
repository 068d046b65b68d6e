/** The product version; a test keeps it equal to package.json's. Hard-coded so the shim reads no file to know it. */
export const VERSION = '0.1.0';
