import os
import subprocess
import sys

import sqlalchemy as sa


def test_demo_server_prints_where_to_go(server, api):
    log = server.log_path.read_text()
    assert f"Web console:  {server.url}/console/" in log
    assert f"Swagger UI:   {server.url}/docs/swagger-ui/index.html" in log
    assert "127.0.0.1" in log


def test_migrate_creates_the_schema_and_is_idempotent(tmp_path):
    db = tmp_path / "x.db"
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "sodata", "migrate", "--db", str(db)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        assert "is up to date" in done.stderr
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from services")).scalar() > 40
        assert conn.execute(sa.text("select count(*) from corporate_accounts")).scalar() == 0
    engine.dispose()


def _serve(tmp_path, env):
    command = [sys.executable, "-m", "sodata", "serve", "--db", str(tmp_path / "x.db")]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_a_bad_setting_is_named_without_a_traceback(tmp_path):
    """Each wrong SODATA_* variable is named with its value and what it should be; exit 1."""
    env = {
        **os.environ,
        "SODATA_LOCKOUT_SECONDS": "0",
        "SODATA_MAX_READS": "many",
        "SODATA_ARGON2_MEMORY_KIB": "16",
        "SODATA_ARGON2_PARALLELISM": "4",
    }
    done = _serve(tmp_path, env)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "Error: invalid setting in the environment:" in done.stderr
    assert "SODATA_LOCKOUT_SECONDS='0': Input should be greater than or equal to 1" in done.stderr
    assert "SODATA_MAX_READS='many': Input should be a valid integer" in done.stderr

    env["SODATA_LOCKOUT_SECONDS"], env["SODATA_MAX_READS"] = "300", "2"
    done = _serve(tmp_path, env)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert (
        "SODATA_ARGON2_MEMORY_KIB must be at least 8 per lane of SODATA_ARGON2_PARALLELISM: "
        "32 or more" in done.stderr
    )


def test_a_bad_setting_that_may_hold_a_secret_is_named_without_its_value():
    from pydantic import BaseModel, ValidationError

    from sodata.cli.main import settings_error

    class Settings(BaseModel):  # as sodata.config's, with settings that would hold secrets
        database_url: int
        mqtt_password: int

    try:
        Settings(database_url="postgresql://u:hunter2@db/x", mqtt_password="hunter2")
    except ValidationError as exc:
        message = settings_error(exc)
    assert "hunter2" not in message
    assert "SODATA_DATABASE_URL: Input should be a valid integer" in message
    assert "SODATA_MQTT_PASSWORD: Input should be a valid integer" in message
