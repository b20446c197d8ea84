from responer_threading.entrypoints.main import main

raise SystemExit(main())
