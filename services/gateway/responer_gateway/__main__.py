from responer_gateway.entrypoints.main import main

raise SystemExit(main())
