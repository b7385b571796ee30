from dltune.cli.app import main

# guarded: trial processes (forkserver/spawn) import the parent's __main__ module as __mp_main__
if __name__ == "__main__":
    main()
