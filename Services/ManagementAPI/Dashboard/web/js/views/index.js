// Every page of the dashboard, in matching order. To add a page: write views/<name>.js exporting a view
// (see docs/dashboard.md, "Adding a page") and add ONE line to this list.
import projects from './projects.js';
import project from './project.js';
import flags from './flags.js';
import flag from './flag.js';
import audit from './audit.js';
import tokens from './tokens.js';
import evaluate from './evaluate.js';
import segments from './segments.js';
import segment from './segment.js';
import experiments from './experiments.js';
import experiment from './experiment.js';
import releases from './releases.js';
import release from './release.js';

export const views = [
  projects,
  project,
  flags,
  flag,
  audit,
  tokens,
  segments,
  segment,
  experiments,
  experiment,
  releases,
  release,
  evaluate,
];
