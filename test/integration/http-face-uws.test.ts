/** The hub's HTTP face on the uWebSockets.js (hyper-express) engine: every case of http-face-cases.ts. */
import { httpFaceTests } from './http-face-cases.js';

httpFaceTests('uws');
