from mesodrive.cli import main

raise SystemExit(main())
