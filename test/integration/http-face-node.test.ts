/** The hub's HTTP face on the node:http engine: every case of http-face-cases.ts. */
import { httpFaceTests } from './http-face-cases.js';

httpFaceTests('node');
