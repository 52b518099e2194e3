import { defineBackendConformance } from './cases.js';

await defineBackendConformance('bwrap');
