import subprocess
import sys

import sqlalchemy as sa


def test_demo_server_prints_where_to_go(server, api):
    log = server.log_path.read_text()
    assert f"Web console:  {server.url}/console/" in log
    assert f"Swagger UI:   {server.url}/docs/swagger-ui/index.html" in log
    assert "Demo data seeded." in log
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
