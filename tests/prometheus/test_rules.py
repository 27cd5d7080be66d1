"""The shipped Prometheus and Alertmanager configuration, checked by Debian's own tools: ``promtool check
rules`` and ``promtool test rules`` (cases in ``rules_test.yml``), ``promtool check config`` on the
example scrape configuration, and ``amtool check-config`` on the example Alertmanager configuration."""

from __future__ import annotations

from pathlib import Path

from tests.prometheus.programs import run_tool

HERE = Path(__file__).resolve().parent
DEPLOY = HERE.parents[1] / "deploy"


def test_the_rules_pass_promtool_check() -> None:
    done = run_tool("promtool", "check", "rules", str(DEPLOY / "prometheus" / "rules.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 8 rules found" in done.stdout


def test_the_rules_pass_their_promtool_unit_tests() -> None:
    done = run_tool("promtool", "test", "rules", "rules_test.yml", cwd=HERE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_broken_rule_fails_its_promtool_unit_tests(tmp_path: Path) -> None:
    # The cases can fail: the same cases against rules whose coverage threshold is off must not pass.
    rules = (DEPLOY / "prometheus" / "rules.yml").read_text()
    broken = rules.replace(
        "(1 - spendsentry_attribution_coverage_objective_ratio)\n          ) > 1",
        "(1 - spendsentry_attribution_coverage_objective_ratio)\n          ) > 5",
    )
    assert broken != rules
    (tmp_path / "deploy" / "prometheus").mkdir(parents=True)
    (tmp_path / "deploy" / "prometheus" / "rules.yml").write_text(broken)
    (tmp_path / "tests" / "prometheus").mkdir(parents=True)
    (tmp_path / "tests" / "prometheus" / "rules_test.yml").write_text((HERE / "rules_test.yml").read_text())
    done = run_tool("promtool", "test", "rules", "rules_test.yml", cwd=tmp_path / "tests" / "prometheus")
    assert done.returncode != 0 and "SpendSentryCoverageSLOBurning" in done.stdout + done.stderr


def test_the_example_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    token = tmp_path / "spendsentry.token"
    token.write_text("a-read-scope-token-0123456789")
    text = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    config = tmp_path / "prometheus.yml"
    config.write_text(text.replace("/etc/prometheus/spendsentry.token", str(token)))
    (tmp_path / "rules.yml").write_text((DEPLOY / "prometheus" / "rules.yml").read_text())
    done = run_tool("promtool", "check", "config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout


def test_the_example_alertmanager_config_passes_amtool() -> None:
    done = run_tool("amtool", "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
