from dltune.cli.app import main

main()
