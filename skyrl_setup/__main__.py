from skyrl_setup.cli import main

raise SystemExit(main())
