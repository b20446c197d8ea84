from responer_routing.entrypoints.main import main

raise SystemExit(main())
