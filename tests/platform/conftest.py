"""Platform test hooks: the tenant-isolation test's coverage line is printed in the run's summary."""

from tests.platform import routes


def pytest_terminal_summary(terminalreporter):
    for line in routes.SUMMARY:
        terminalreporter.write_line(line)
