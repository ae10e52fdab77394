// Prints the plain final line CI looks for: `N passed, N failed`. Suites that fail to load count
// as failed, so a syntax error can never look like a green run.

export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    process.stdout.write(`\n${results.numPassedTests} passed, ${failed} failed\n`);
  }
}
