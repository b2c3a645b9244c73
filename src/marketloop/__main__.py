from marketloop.cli.main import run

run()
