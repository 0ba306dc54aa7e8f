import { describeKernelConformance } from '@recur/conformance';
import { jsBackend } from '../src/index.js';

describeKernelConformance('js', () => jsBackend);
