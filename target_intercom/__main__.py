from target_intercom.cli import main

raise SystemExit(main())
