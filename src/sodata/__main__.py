from sodata.cli import app

app()
